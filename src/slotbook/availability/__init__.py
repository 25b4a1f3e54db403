"""The availability grid: bookable slots with live capacity, decided by the booking rules."""
