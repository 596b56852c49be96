# sluice_use_precompiled_headers(TARGET): TARGET compiles with libcore's precompiled header
# (libcore/CMakeLists.txt) when SLUICE_PRECOMPILE is on. Only for targets compiled with the
# same language and code-generation flags as libcore (every tool, libcore library and fuzz
# target is; their own -D definitions do not touch the precompiled headers).
function(sluice_use_precompiled_headers target)
  if(SLUICE_PRECOMPILE)
    target_precompile_headers(${target} REUSE_FROM sluice_core)
  endif()
endfunction()

# sluice_add_tool(NAME SOURCES file... [LIBRARIES lib...] [FULLY_STATIC])
# Adds the tool's logic library (NAME_lib, from SOURCES, linked by the tests), the NAME binary
# (tools/NAME/main.cpp) and the install rules for the binary and man/NAME.1. With FULLY_STATIC
# (and SLUICE_STATIC_RUNTIME on) the binary is linked with -static: no dynamic loader at
# start-up, about 0.3 ms per run on the benchmark VM, and a dynamically linked twin goes to
# libexec/sluice/NAME for what needs the loader (libpq). The tool must then use no shared-only
# library (simdjson). A static PIE is not possible with Debian's libm.a.
function(sluice_add_tool name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "FULLY_STATIC" "" "SOURCES;LIBRARIES")
  set(dir ${PROJECT_SOURCE_DIR}/tools/${name})
  list(TRANSFORM ARG_SOURCES PREPEND ${dir}/)
  string(REPLACE "-" "_" lib ${name})
  add_library(${lib}_lib STATIC ${ARG_SOURCES})
  # The command-line file is the one that compiles CLI11 (docs/ARCHITECTURE.md, "Build"): kept
  # out of the unity batches, an edit to it or to a logic file recompiles only one of the two.
  list(FILTER ARG_SOURCES INCLUDE REGEX "_cli\\.cpp$")
  set_source_files_properties(${ARG_SOURCES} PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
  sluice_use_precompiled_headers(${lib}_lib)
  target_include_directories(${lib}_lib PUBLIC ${dir})
  target_link_libraries(${lib}_lib PUBLIC sluice::core ${ARG_LIBRARIES})
  add_executable(${name} ${dir}/main.cpp)
  sluice_use_precompiled_headers(${name})
  target_link_libraries(${name} PRIVATE ${lib}_lib)
  if(ARG_FULLY_STATIC AND SLUICE_STATIC_RUNTIME AND NOT SLUICE_SANITIZE
     AND SLUICE_SQLITE_ARCHIVE AND SLUICE_CRYPTO_ARCHIVE)
    target_link_options(${name} PRIVATE -static)
    # A static binary cannot load libpq: for a postgresql:// state it re-executes this twin,
    # the same program linked dynamically (cli::state_target), from libexec/sluice/.
    add_executable(${name}_twin ${dir}/main.cpp)
    sluice_use_precompiled_headers(${name}_twin)
    target_link_libraries(${name}_twin PRIVATE ${lib}_lib)
    set_target_properties(${name}_twin PROPERTIES OUTPUT_NAME ${name}
      RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/${SLUICE_TWINS_DIRECTORY})
    install(TARGETS ${name}_twin RUNTIME DESTINATION ${SLUICE_TWINS_DIRECTORY})
  endif()
  # Shell completions, printed by the tool itself from its CLI11 definitions.
  set(completions ${PROJECT_BINARY_DIR}/completions)
  add_custom_command(TARGET ${name} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -E make_directory ${completions}/bash ${completions}/zsh ${completions}/fish
    COMMAND sh -c "\"$1\" --completion bash > \"$2/bash/$3\" && \"$1\" --completion zsh > \"$2/zsh/_$3\" && \"$1\" --completion fish > \"$2/fish/$3.fish\""
            sh $<TARGET_FILE:${name}> ${completions} ${name}
    VERBATIM)
  install(FILES ${completions}/bash/${name} DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
  install(FILES ${completions}/zsh/_${name} DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)
  install(FILES ${completions}/fish/${name}.fish DESTINATION ${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d)
  install(TARGETS ${name} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(FILES ${PROJECT_SOURCE_DIR}/man/${name}.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
  set_property(GLOBAL APPEND PROPERTY SLUICE_TOOLS ${name})
endfunction()
