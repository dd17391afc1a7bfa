"""The read model shared by the report and W&B: per-step aggregates and heatmap images.

It sits above the store and events and below their consumers, so a live W&B sweep, a replay
of its store and the HTML report compute every number the same way.
"""
