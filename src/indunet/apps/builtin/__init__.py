"""The built-in methods, as pure functions over arrays: no database, no I/O, inputs bounded
and checked (``InvalidInput`` naming what is wrong), results as plain data. The runtime binds
them to devices' series and to the unified invocation (docs/apps/)."""
