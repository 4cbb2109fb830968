'use strict';
// Runs the official Huawei Cloud Node.js SDK against the service (issue 11 §2): clients built from AK/SK alone must look
// up their project (BasicCredentials) or account (GlobalCredentials) id as they do against the real cloud, and the
// Keystone calls must accept account-level signing. Prints one JSON line per call and exits 1 on the first failure.
// Environment: IMS_URL (http://127.0.0.1:port), IMS_REGION, IMS_AK, IMS_SK, IMS_DOMAIN_ID, IMS_TOKEN (a token to validate).

const core = require('@huaweicloud/huaweicloud-sdk-core');
// The packages' top-level entries also load API versions that do not resolve in these releases; the versioned entries do.
const iam = require('@huaweicloud/huaweicloud-sdk-iam/v3/public-api');
const ecs = require('@huaweicloud/huaweicloud-sdk-ecs/v2/public-api');

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const url = env('IMS_URL');
const region = new core.Region(env('IMS_REGION'), url);
const ak = env('IMS_AK');
const sk = env('IMS_SK');

function iamClient(credentials) {
  return iam.IamClient.newBuilder().withCredential(credentials).withRegion(region).build();
}

async function step(name, call) {
  try {
    const result = await call();
    console.log(JSON.stringify({ step: name, ok: true, result }));
  } catch (e) {
    console.log(JSON.stringify({ step: name, ok: false, status: e.status ?? e.httpStatusCode, code: e.errorCode, message: e.errorMsg ?? e.message }));
    process.exit(1);
  }
}

(async () => {
  // BasicCredentials(ak, sk) without a project id: the SDK finds the project of the region through IAM first.
  const basic = new core.BasicCredentials().withAk(ak).withSk(sk).withIamEndpoint(url);
  const ecsClient = ecs.EcsClient.newBuilder().withCredential(basic).withRegion(region).build();
  await step('ecs.listServersDetails (BasicCredentials without project id)', async () => {
    const r = await ecsClient.listServersDetails(new ecs.ListServersDetailsRequest().withLimit(1));
    return { status: r.httpStatusCode, count: r.count, projectId: basic.projectId };
  });

  // GlobalCredentials(ak, sk) without a domain id: the SDK finds the account through GET /v3/auth/domains first.
  const lookedUp = new core.GlobalCredentials().withAk(ak).withSk(sk).withIamEndpoint(url);
  await step('iam.keystoneListProjects (GlobalCredentials without domain id)', async () => {
    const r = await iamClient(lookedUp).keystoneListProjects(new iam.KeystoneListProjectsRequest());
    return { status: r.httpStatusCode, domainId: lookedUp.domainId, projects: r.projects.map((p) => p.id) };
  });

  // GlobalCredentials(ak, sk, domainId): account-level signing (X-Domain-Id, no X-Project-Id).
  const global = new core.GlobalCredentials().withAk(ak).withSk(sk).withDomainId(env('IMS_DOMAIN_ID')).withIamEndpoint(url);
  const client = iamClient(global);
  await step('iam.keystoneListProjects', async () => {
    const r = await client.keystoneListProjects(new iam.KeystoneListProjectsRequest().withName(env('IMS_REGION')));
    return { status: r.httpStatusCode, projects: r.projects.map((p) => p.id) };
  });
  await step('iam.keystoneListAuthProjects', async () => {
    const r = await client.keystoneListAuthProjects(new iam.KeystoneListAuthProjectsRequest());
    return { status: r.httpStatusCode, projects: r.projects.map((p) => p.id) };
  });
  await step('iam.keystoneValidateToken', async () => {
    const r = await client.keystoneValidateToken(new iam.KeystoneValidateTokenRequest().withXSubjectToken(env('IMS_TOKEN')));
    return { status: r.httpStatusCode, projectId: r.token.project.id, userId: r.token.user.id };
  });
})();
