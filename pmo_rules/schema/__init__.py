"""The portfolio data model (pydantic) and the type environment the checker derives from it."""
