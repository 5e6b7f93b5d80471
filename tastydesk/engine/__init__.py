"""The trading engine: domain, pricing, selection, rules, workflow, brokers, store. Qt-free."""
