"""Benchmarks of issue #7: flowagents against AutoGen 0.2 and LangGraph (see README.md)."""
