"""ndgrad's primitive ops, grouped by kind; each is a Function with forward beside backward."""
