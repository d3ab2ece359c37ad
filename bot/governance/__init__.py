"""Governance: who may use the bot and where, how much per day, and what it used.

``access`` applies the allowlists and the external-user policy; ``limits`` the daily limits;
``usage`` records each turn's usage and reports it (with an estimated cost when prices are
set); ``gate`` tells a refused person why, once per thread, and never starts a turn for them.
"""
