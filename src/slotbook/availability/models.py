"""No tables of its own: the grid is computed on each request from the catalog (working
hours, time off) and the booking lines, so it can never disagree with stored state."""
