"""Detection: rules as YAML data (``rules``), the engine that runs them over the hub's
events (``engine``), the learned baseline (``baseline``). docs/security/rules.md."""

from .baseline import Baseline, BaselineStore
from .context import Context, PointRange
from .engine import Engine, RuleStats
from .memorysink import MemorySink
from .rules import Rule, RuleError, RuleFile, RuleSet, builtin_files, load_ruleset, read_file

__all__ = [
    "Baseline",
    "BaselineStore",
    "Context",
    "Engine",
    "MemorySink",
    "PointRange",
    "Rule",
    "RuleError",
    "RuleFile",
    "RuleSet",
    "RuleStats",
    "builtin_files",
    "load_ruleset",
    "read_file",
]
