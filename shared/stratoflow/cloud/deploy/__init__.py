"""The deploy pipeline: a flow file uploaded to the flows bucket becomes a state machine version, its role,
alarms, trigger rules, pipes and schedules."""
