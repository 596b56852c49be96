# bench/funnel peer of sample: every line with probability 1%, no keys, no weights.
BEGIN { srand(1) }
rand() < 0.01
