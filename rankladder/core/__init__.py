"""The floor every stage stands on: errors (exit 2), atomic files and folders, hashing, manifests, the config base.

Imports the standard library and small dependencies only, never a stage.
"""
