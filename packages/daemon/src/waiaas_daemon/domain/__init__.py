"""The wallet's rules and actions: sends, payments, sessions, waiting
decisions, policy, owner controls. Depends on storage and chain, never on serving.
"""
