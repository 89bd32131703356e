// Quantization — see DESIGN §7.
