"""People's credentials: password hashing and the password policy."""
