"""Industrial apps and mechanism models (工业APP与机理模型): versioned packages with a manifest,
invoked through one interface, and the built-in methods (``builtin``): OEE, SPC, predictive
maintenance, energy and the equipment activity index (docs/apps/)."""
