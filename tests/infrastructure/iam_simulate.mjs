// Evaluates IAM requests with @cloud-copilot/iam-simulate (AWS's evaluation logic: identity
// policies, resource policy, permissions boundary, condition keys).
// Reads a JSON array of simulations on stdin, each
//   {principal, action, resource, accountId, context, identityPolicies: [doc], resourcePolicy?: doc,
//    boundaries?: [doc]}
// and writes a JSON array of answers, each {result: "Allowed" | "ImplicitlyDenied" |
// "ExplicitlyDenied"} or {error: "<why the request or a policy is invalid>"}.
import { runSimulation } from '@cloud-copilot/iam-simulate'

function simulation(request) {
  return {
    request: {
      principal: request.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: request.accountId },
      contextVariables: request.context ?? {}
    },
    identityPolicies: request.identityPolicies.map((policy, index) => ({ name: `identity${index}`, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: request.resourcePolicy ?? undefined,
    permissionBoundaryPolicies: request.boundaries?.map((policy, index) => ({ name: `boundary${index}`, policy }))
  }
}

async function answer(request) {
  try {
    const response = await runSimulation(simulation(request), { simulationMode: 'Strict' })
    if (response.resultType === 'error') {
      return { error: response.errors.message + ' ' + JSON.stringify(response.errors) }
    }
    return { result: response.overallResult }
  } catch (error) {
    return { error: String(error) }
  }
}

let input = ''
process.stdin.setEncoding('utf8')
for await (const chunk of process.stdin) input += chunk
const answers = []
for (const request of JSON.parse(input)) answers.push(await answer(request))
process.stdout.write(JSON.stringify(answers))
