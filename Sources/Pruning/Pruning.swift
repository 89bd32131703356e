// Pruning — see DESIGN §7.
