"""Click commands: one module each, thin wrappers over the library."""
