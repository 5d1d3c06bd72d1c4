import type { Issue } from "@plateau/contract";

const TOP_KEYS = ["class_name", "config", "module", "registered_name"];

/**
 * Problems with the wrapper Keras's `serialize_keras_object` puts around a built-in object's config
 * ({class_name, config, module, registered_name}): unknown keys, another module, or a registered (custom)
 * class. The class name and config are the caller's to check.
 */
export function serializedWrapperIssues(
  spec: Record<string, unknown>,
  path: string,
  module: string,
  kind: string,
): Issue[] {
  const issues: Issue[] = [];
  for (const key of Object.keys(spec)) {
    if (!TOP_KEYS.includes(key)) {
      issues.push({
        path: `${path}/${key}`,
        message: `unknown key "${key}"; ${kind} object has ${TOP_KEYS.join(", ")}`,
      });
    }
  }
  if (spec.module !== undefined && spec.module !== module)
    issues.push({ path: `${path}/module`, message: `must be "${module}"` });
  if (spec.registered_name !== undefined && spec.registered_name !== null)
    issues.push({
      path: `${path}/registered_name`,
      message: `must be null (custom ${kind.split(" ").pop()}s are not supported)`,
    });
  return issues;
}
