"""Testing helpers: small dense references for the matrix-free core."""
