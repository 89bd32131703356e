// Training — see DESIGN §7.
