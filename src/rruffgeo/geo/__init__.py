"""Geolocation: locality cleaning and flags, geocoders, countries (paper 2, A.1-A.3)."""
