"""Debt of issue 18: public core signatures that still say `Any` ("path:function:parameter").

Most left are raw YAML mappings (flow/rules), the compiler's ASL dicts and the render results that want
`JsonValue` or a model. The list only shrinks: test_typed_seams fails on an `Any` not listed here, and
on an entry that is no longer there (remove it when its signature gets its type).
"""

ANY_DEBT = frozenset(
    {
        "shared/stratoflow/compiler/__init__.py:check_definition:definition",
        "shared/stratoflow/compiler/asl.py:AslModel.dump:return",
        "shared/stratoflow/compiler/asl.py:dump_state:return",
        "shared/stratoflow/compiler/budget.py:iteration_events:processor",
        "shared/stratoflow/compiler/builder.py:Builder.definition:return",
        "shared/stratoflow/compiler/builder.py:Builder.runner_call:extra",
        "shared/stratoflow/compiler/flow.py:lower_flow:return",
        "shared/stratoflow/compiler/flow.py:permissions_of:return",
        "shared/stratoflow/compiler/flow.py:placeholders_of:definition",
        "shared/stratoflow/compiler/frame.py:Flowable.emit_end:extra",
        "shared/stratoflow/compiler/frame.py:Flowable.emit_start:choices",
        "shared/stratoflow/compiler/frame.py:Flowable.emit_start:extra",
        "shared/stratoflow/compiler/payloads.py:payload_template:fields",
        "shared/stratoflow/compiler/payloads.py:payload_template:return",
        # moved from compiler/__init__.py with the measure as sent (`compiler.sent`)
        "shared/stratoflow/compiler/sent.py:definition_text:definition",
        "shared/stratoflow/compiler/sent.py:substitute:definition",
        "shared/stratoflow/compiler/sent.py:substitute:return",
        "shared/stratoflow/execution/masking.py:mask_value:return",
        "shared/stratoflow/execution/masking.py:mask_value:value",
        "shared/stratoflow/execution/runner/context.py:TaskRunContext.mask_value:return",
        "shared/stratoflow/execution/runner/context.py:TaskRunContext.mask_value:value",
        "shared/stratoflow/execution/runner/context.py:TaskRunContext.render:return",
        "shared/stratoflow/execution/runner/context.py:TaskRunContext.render:value",
        "shared/stratoflow/execution/runner/context.py:TaskRunContext.render:variables",
        "shared/stratoflow/execution/runner/runner.py:TaskRunner.handle:event",
        "shared/stratoflow/execution/runner/runner.py:TaskRunner.handle:return",
        "shared/stratoflow/execution/runner/runner.py:run_within_timeout:return",
        "shared/stratoflow/execution/runner/subflows.py:subflow_outputs:return",
        "shared/stratoflow/flow/model.py:Flow.model_validate:context",
        "shared/stratoflow/flow/model.py:Flow.model_validate:obj",
        "shared/stratoflow/flow/model.py:Flow.model_validate:options",
        "shared/stratoflow/flow/rules.py:check_expressions:data",
        "shared/stratoflow/flow/rules.py:check_structure:data",
        "shared/stratoflow/flow/rules.py:raw_tasks:data",
        "shared/stratoflow/flow/rules.py:render_static_subflows:data",
        "shared/stratoflow/flow/run_context.py:RunContext.execution_summary:return",
        "shared/stratoflow/flow/run_context.py:RunContext.kv_get:return",
        "shared/stratoflow/flow/run_context.py:RunContext.kv_set:value",
        "shared/stratoflow/flow/run_context.py:RunContext.render:return",
        "shared/stratoflow/flow/run_context.py:RunContext.render:value",
        "shared/stratoflow/flow/run_context.py:RunContext.render:variables",
        "shared/stratoflow/flow/task.py:RunnableTask.run:return",
        "shared/stratoflow/triggers/webhooks.py:LambdaInvoker.invoke:return",
        "shared/stratoflow/triggers/webhooks.py:request_from_function_url:event",
    }
)
