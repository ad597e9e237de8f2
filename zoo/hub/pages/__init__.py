"""Web pages of a hub for people: the index, model pages, comparisons, and the static site."""
