"""Cloud cost model: what a compiled flow costs per month on Step Functions, Lambda and DynamoDB.

Computed from the compiled definition (no AWS SDK): state transitions, task-runner invocations and
GB-seconds, DynamoDB requests and capacity units, priced at public us-east-1 list prices, for a Standard
workflow and, when the flow fits, an Express one. `strato cost FLOW` prints it with its assumptions.
"""

from stratoflow.cost.assumptions import Assumptions
from stratoflow.cost.dynamo import DynamoUsage
from stratoflow.cost.estimate import CostEstimate, LineItem, Usage, count, estimate, express_blockers
from stratoflow.cost.prices import FREE_TIER, LIST_PRICES, FreeTier, Prices

__all__ = [
    "FREE_TIER",
    "LIST_PRICES",
    "Assumptions",
    "CostEstimate",
    "DynamoUsage",
    "FreeTier",
    "LineItem",
    "Prices",
    "Usage",
    "count",
    "estimate",
    "express_blockers",
]
