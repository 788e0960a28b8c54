// the live view
