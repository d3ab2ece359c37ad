"""The Microsoft Foundry client: one HTTP client behind a small Protocol."""
