"""Business software tells Portti its companies (PRV-2): creating, changing and closing a
company, and naming its first user administrator, who is invited when they need the app."""
