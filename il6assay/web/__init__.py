"""The review app in the browser."""
