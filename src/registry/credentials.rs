//! Registry credentials from the user's docker and podman configuration (stub).
