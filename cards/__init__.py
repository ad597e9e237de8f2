"""The model card: schema, validation, layer map, README rendering, license policy."""
