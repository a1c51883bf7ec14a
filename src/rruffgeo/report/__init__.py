"""Reporting: dataset tables, figures and the HTML report (paper 3, 5)."""
