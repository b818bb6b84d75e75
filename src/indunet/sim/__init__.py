"""The virtual factory (虚拟工厂): simulated equipment speaking real industrial protocols."""

__all__: list[str] = []
