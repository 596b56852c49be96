# Run at build time (cmake -P): writes OUTPUT from INPUT with the current git revision, so
# --version names the commit that was built, marked "-dirty" for uncommitted changes.
# configure_file rewrites OUTPUT only when its content changes, so nothing recompiles otherwise.
execute_process(COMMAND git describe --always --dirty --abbrev=7
                WORKING_DIRECTORY ${SOURCE_DIR}
                OUTPUT_VARIABLE SLUICE_GIT_REVISION OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT SLUICE_GIT_REVISION)
  set(SLUICE_GIT_REVISION "unknown")
endif()
configure_file(${INPUT} ${OUTPUT} @ONLY)
