"""The Strategy Builder: a dock around one table of strategy fields (see ``fields``)."""

from tastydesk.ui.builder.dock import StrategyBuilderDock

__all__ = ["StrategyBuilderDock"]
