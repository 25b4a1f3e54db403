"""What booking, the grid, the desk and the public page share about time and capacity:
the booking rules (``rules``) and the helpers around them (``local``, ``schedules``).

Features import this package, never each other's services; it imports only the catalog's
repositories (to read working hours and time off)."""
