"""Project tools: benchmarks, reliability soak, demo, model card, bundled examples."""
