"""Typed identifiers: a workflow id is not a proposal id, and an order's external id is ours."""

from __future__ import annotations

from typing import NewType

WorkflowId = NewType("WorkflowId", int)
ProposalId = NewType("ProposalId", int)
ExternalOrderId = NewType("ExternalOrderId", str)  # "td-<workflow>-<purpose>-<hex>", sent first
BrokerOrderId = NewType("BrokerOrderId", str)
