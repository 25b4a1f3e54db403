"""Server-rendered pages: the customers' booking page and the front-desk day view."""
