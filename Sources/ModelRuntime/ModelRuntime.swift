// ModelRuntime — see DESIGN §7.
