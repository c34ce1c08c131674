"""File loaders for the real datasets: the only place that parses their files into layer records."""
