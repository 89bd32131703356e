// Benchmarking — see DESIGN §7.
