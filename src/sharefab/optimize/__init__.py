"""The solver library: multi-factory flexible job shop with calendars. Imports nothing else of sharefab."""
