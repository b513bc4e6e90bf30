import { dv } from "../errors.ts";
import { formatDateTime } from "../format.ts";
import type { OrgMetadata } from "../metadata/registry.ts";
import { INTERSECT_ROWS, navigationFor, type ManyToManyNavigation, type ManyToManySide } from "../navigation.ts";
import { isLookupType, type EntityMetadata } from "../metadata/types.ts";
import { ReadScope, type Expr } from "../store.ts";
import type { ComparisonOperator, FilterNode, Literal } from "./filter.ts";
import { coerceLiteral, edmType, incompatible, isNumericType, isStringType, parseDateLiteral } from "./literals.ts";
import { QUERY_FUNCTIONS } from "./query-functions.ts";
import type { BoundProperty, FilterCaller, PropertyBinder } from "./bound-property.ts";

export type { BoundProperty, FilterCaller } from "./bound-property.ts";

/**
 * The Read scope of each table a predicate joins into (a lookup path, a lambda's related rows), known
 * before binding since binding is synchronous. {@link bindFilter} prepares it from the caller's security context.
 */
export type ScopeOf = (entity: EntityMetadata) => ReadScope;

/** What binding a `$filter` to a table needs. */
export interface BindContext {
  md: OrgMetadata;
  entity: EntityMetadata;
  caller: FilterCaller;
  /** "Now" in ms since the epoch (UTC). Date functions use UTC day boundaries. */
  now: number;
  /** The scope every `EXISTS` into another table carries: a row outside it behaves as if it did not exist. */
  scopeOf: ScopeOf;
}

/**
 * A {@link ScopeOf} for binders that must never join (FetchXML conditions name columns of their own
 * table; their link-entities carry their own scopes).
 * @throws Error naming the table, should a join be attempted.
 */
export function noJoins(where: string): ScopeOf {
  return (entity) => {
    throw new Error(`${where} cannot join the table '${entity.logicalName}' without its Read scope`);
  };
}

/**
 * Binds a `$filter` with a Read scope on every table it joins into, in two passes: binding is synchronous,
 * so a first pass finds the joined tables (under a deny-all placeholder, discarded), `readScope` gives each
 * one's scope (the caller's: `SecurityContext.readScope`, which also checks `prvRead`), and the second pass
 * binds with them. Both passes are pure and bind the same parsed tree; a filter without joins is bound once.
 * @throws DataverseError as {@link FilterBinder.bind}, and 403 `0x80040220` from `readScope`.
 */
export async function bindFilter(context: Omit<BindContext, "scopeOf">, node: FilterNode, readScope: (entity: EntityMetadata) => Promise<ReadScope>): Promise<Expr> {
  const joined = new Map<string, EntityMetadata>();
  const placeholder = ReadScope.caller({ kind: "false" });
  const first = new FilterBinder({
    ...context,
    scopeOf: (entity) => {
      joined.set(entity.logicalName, entity);
      return placeholder;
    },
  }).bind(node);
  // No join asked for a scope: the first pass holds no placeholder and is the result.
  if (joined.size === 0) return first;
  const scopes = new Map<string, ReadScope>();
  for (const [name, entity] of joined) scopes.set(name, await readScope(entity));
  return new FilterBinder({
    ...context,
    scopeOf: (entity) => {
      const scope = scopes.get(entity.logicalName);
      if (!scope) throw new Error(`the Read scope of '${entity.logicalName}' was not prepared`);
      return scope;
    },
  }).bind(node);
}

const identity = (e: Expr): Expr => e;

/** Binds `$filter` syntax to one table. */
export class FilterBinder implements PropertyBinder {
  readonly context: BindContext;
  /** Lambda range variable whose prefix property paths carry (`c` in `any(c: c/name eq 'x')`). */
  private readonly variable: string | undefined;

  constructor(context: BindContext, variable?: string) {
    this.context = context;
    this.variable = variable;
  }

  /** The predicate for a whole `$filter`. */
  bind(node: FilterNode): Expr {
    return this.predicate(node, this.context.entity);
  }

  /**
   * Resolves a property path on `entity`: a column (`name`, `_parentcustomerid_value`) or
   * `nav/column` through a single-valued navigation property.
   * @throws DataverseError `propertyNotFound` for an unknown name.
   */
  property(path: string[], entity: EntityMetadata = this.context.entity): BoundProperty {
    const { md } = this.context;
    if (this.variable !== undefined && entity === this.context.entity) {
      if (path[0] !== this.variable || path.length < 2) throw dv.queryOptionNotSupported(`'${path.join("/")}' inside a lambda: orgbox supports only properties of the range variable '${this.variable}'`);
      return new FilterBinder(this.context).property(path.slice(1), entity);
    }
    const name = path.join("/");
    if (path.length === 1) {
      const segment = path[0] as string;
      const lookup = /^_(.+)_value$/.exec(segment);
      const attribute = md.attribute(entity, lookup ? (lookup[1] as string) : segment);
      if (!attribute || (lookup && !isLookupType(attribute.type)) || (!lookup && isLookupType(attribute.type))) throw dv.propertyNotFound(segment, entity.logicalName);
      return { attribute, entity, name, wrap: identity };
    }
    const [navName, ...rest] = path as [string, ...string[]];
    const nav = navigationFor(md).singleValued(entity, navName);
    if (!nav) throw dv.propertyNotFound(md.attribute(entity, navName) || /^_.+_value$/.test(navName) ? name : navName, entity.logicalName);
    const lookupColumn = nav.attribute.logicalName;
    const targets = nav.targets.map((t) => md.entity(t)).filter((t): t is EntityMetadata => t !== undefined);
    // A navigation followed by the target's key compares the lookup column itself.
    if (rest.length === 1 && targets.length > 0 && targets.every((t) => t.primaryIdAttribute === rest[0])) return { attribute: nav.attribute, entity, name, wrap: identity };
    // Multi-table lookups (ownerid → systemuser or team): the path holds when it holds through any target having the column.
    const resolved: { target: EntityMetadata; inner: BoundProperty }[] = [];
    let firstError: unknown;
    for (const target of targets) {
      try {
        resolved.push({ target, inner: this.property(rest, target) });
      } catch (error) {
        firstError ??= error;
      }
    }
    const first = resolved[0];
    if (!first) throw firstError ?? dv.propertyNotFound(name, entity.logicalName);
    return {
      attribute: first.inner.attribute,
      entity: first.inner.entity,
      name,
      wrap: (e) =>
        resolved
          .map(({ target, inner }): Expr => ({ kind: "exists", entity: target, innerColumn: target.primaryIdAttribute, outerColumn: lookupColumn, where: inner.wrap(e), scope: this.context.scopeOf(target) }))
          .reduce((a, b) => ({ kind: "or", left: a, right: b })),
    };
  }

  /** A value node (literal or parameter-alias literal) as a literal. */
  literal(node: FilterNode, context: string): Literal {
    if (node.type !== "literal") throw dv.querySyntax(`${context} must be a literal value`);
    return node.literal;
  }

  private predicate(node: FilterNode, entity: EntityMetadata): Expr {
    switch (node.type) {
      case "and":
      case "or":
        return { kind: node.type, left: this.predicate(node.left, entity), right: this.predicate(node.right, entity) };
      case "not":
        return { kind: "not", operand: this.predicate(node.operand, entity) };
      case "compare":
        return this.compare(node.op, node.left, node.right, entity);
      case "call":
        return this.call(node.name, node.args, node.named, entity);
      case "lambda":
        return this.lambda(node.path, node.op, node.variable, node.predicate, entity);
      case "literal":
        if (node.literal.type === "boolean") return { kind: node.literal.value ? "true" : "false" };
        throw dv.querySyntax("the $filter expression is not a boolean expression");
      case "property": {
        const bound = this.property(node.path, entity);
        if (bound.attribute.type !== "Boolean") throw dv.querySyntax(`the property '${bound.name}' is not a boolean expression`);
        return bound.wrap({ kind: "compare", op: "eq", left: { kind: "column", name: bound.attribute.logicalName }, right: { kind: "value", value: true } });
      }
      case "array":
        throw dv.querySyntax("an array is not a boolean expression");
    }
  }

  /**
   * `nav/any(x: x/col eq 1)` → EXISTS over the related rows; `all` → NOT EXISTS of a row failing the predicate.
   * Inside the lambda only the range variable's properties can be used.
   */
  private lambda(path: string[], op: "any" | "all", variable: string | undefined, predicate: FilterNode | undefined, entity: EntityMetadata): Expr {
    const { md } = this.context;
    const name = path.join("/");
    if (path.length !== 1) throw dv.queryOptionNotSupported(`$filter lambda over the path '${name}' (only a collection-valued navigation property of the queried table)`);
    const nav = navigationFor(md);
    const relationship = nav.collectionValued(entity, path[0] as string);
    const link = relationship ? undefined : nav.manyToMany(entity, path[0] as string);
    const related = relationship ? md.entity(relationship.referencingEntity) : link ? md.entity(link.other.entity) : undefined;
    if ((!relationship && !link) || !related) throw dv.propertyNotFound(name, entity.logicalName);
    let inner: Expr | undefined;
    if (predicate) {
      const scoped = new FilterBinder({ ...this.context, entity: related }, variable);
      inner = scoped.predicate(predicate, related);
    } else if (op === "all") throw dv.querySyntax(`'${name}/all' needs a predicate`);
    // A related row matching `where`: a child whose lookup is this row (1:N), or a record linked through the intersect table (N:N).
    // Only related rows the caller may read: `any` over unreadable rows is false, and `all` ignores them.
    const scope = this.context.scopeOf(related);
    const matching = (where: Expr | undefined): Expr =>
      link ? linkedRow(link, entity, related, scope, where) : { kind: "exists", entity: related, innerColumn: relationship?.referencingAttribute ?? "", outerColumn: entity.primaryIdAttribute, scope, ...(where ? { where } : {}) };
    if (op === "any") return matching(inner);
    return { kind: "not", operand: matching({ kind: "not", operand: inner as Expr }) };
  }

  private compare(op: ComparisonOperator, leftNode: FilterNode, rightNode: FilterNode, entity: EntityMetadata): Expr {
    const leftIsProp = leftNode.type === "property";
    const rightIsProp = rightNode.type === "property";
    if (leftIsProp && rightIsProp) return this.columnComparison(op, leftNode.path, rightNode.path, entity);
    if (!leftIsProp && rightIsProp) return this.compare(FLIP[op], rightNode, leftNode, entity);
    if (!leftIsProp) {
      if (leftNode.type === "call") throw dv.queryOptionNotSupported(`$filter function '${leftNode.name}' in a comparison (Dataverse supports only contains, startswith, endswith and the Microsoft.Dynamics.CRM query functions)`);
      throw dv.querySyntax(`a comparison in $filter needs a property on one side`);
    }
    const bound = this.property(leftNode.path, entity);
    if (rightNode.type === "call") throw dv.queryOptionNotSupported(`$filter function '${rightNode.name}' in a comparison`);
    const literal = this.literal(rightNode, `the right side of '${bound.name} ${op}'`);
    const attribute = bound.attribute;
    if (literal.type === "null" && op !== "eq" && op !== "ne") throw incompatible(edmType(attribute.type, attribute), "null", op);
    let value = coerceLiteral(attribute, literal, op);
    let effectiveOp: ComparisonOperator | "never" | "notnull" = op;
    if (attribute.type === "DateTime" && literal.type === "datetime") {
      // Stored values have second precision: compare against whole seconds without changing the meaning.
      const ms = parseDateLiteral(literal.value) as number;
      if (ms % 1000 !== 0) {
        value = formatDateTime(ms - (ms % 1000));
        effectiveOp = op === "gt" || op === "ge" ? "gt" : op === "lt" || op === "le" ? "le" : op === "eq" ? "never" : "notnull";
      }
    }
    const column = { kind: "column" as const, name: attribute.logicalName };
    let expr: Expr;
    if (effectiveOp === "never") expr = { kind: "false" };
    else if (effectiveOp === "notnull") expr = { kind: "compare", op: "ne", left: column, right: { kind: "value", value: null } };
    else expr = { kind: "compare", op: effectiveOp, left: column, right: { kind: "value", value }, ...(isStringType(attribute.type) && value !== null ? { caseInsensitive: true } : {}) };
    return bound.wrap(expr);
  }

  private columnComparison(op: ComparisonOperator, leftPath: string[], rightPath: string[], entity: EntityMetadata): Expr {
    if (leftPath.length > 1 || rightPath.length > 1) throw dv.queryOptionNotSupported(`column comparison through a navigation property ('${leftPath.join("/")}' ${op} '${rightPath.join("/")}')`);
    const left = this.property(leftPath, entity);
    const right = this.property(rightPath, entity);
    const lt = edmType(left.attribute.type, left.attribute);
    const rt = edmType(right.attribute.type, right.attribute);
    const numeric = isNumericType(left.attribute.type) && isNumericType(right.attribute.type);
    if (lt !== rt && !numeric) throw incompatible(lt, rt, op);
    return {
      kind: "compare",
      op,
      left: { kind: "column", name: left.attribute.logicalName },
      right: { kind: "column", name: right.attribute.logicalName },
      ...(isStringType(left.attribute.type) ? { caseInsensitive: true } : {}),
    };
  }

  private call(name: string, args: FilterNode[], named: Map<string, FilterNode>, entity: EntityMetadata): Expr {
    if (name === "contains" || name === "startswith" || name === "endswith") return this.stringFunction(name, args, entity);
    const shortName = name.startsWith("Microsoft.Dynamics.CRM.") ? name.slice("Microsoft.Dynamics.CRM.".length) : undefined;
    const fn = shortName === undefined ? undefined : QUERY_FUNCTIONS.get(shortName);
    if (!fn) {
      if (shortName === undefined) throw dv.queryOptionNotSupported(`$filter function '${name}' (Dataverse supports contains, startswith, endswith and the Microsoft.Dynamics.CRM query functions)`);
      throw dv.queryOptionNotSupported(`$filter function '${name}' (not implemented by orgbox yet)`);
    }
    if (args.length > 0) throw dv.querySyntax(`'${name}' takes named parameters only, e.g. ${name}(PropertyName='name')`);
    return fn({ name, binder: this, entity, named, caller: this.context.caller, now: this.context.now });
  }

  private stringFunction(name: "contains" | "startswith" | "endswith", args: FilterNode[], entity: EntityMetadata): Expr {
    const [target, value] = args;
    if (args.length !== 2 || !target || !value) throw dv.querySyntax(`'${name}' takes two arguments: a property and a string`);
    if (target.type !== "property") throw dv.querySyntax(`the first argument of '${name}' must be a property`);
    const bound = this.property(target.path, entity);
    if (!isStringType(bound.attribute.type)) throw dv.querySyntax(`'${name}' needs a string property; '${bound.name}' is ${edmType(bound.attribute.type, bound.attribute)}`);
    const literal = this.literal(value, `the second argument of '${name}'`);
    if (literal.type !== "string") throw dv.querySyntax(`the second argument of '${name}' must be a string`);
    const body = likeBody(literal.value);
    const pattern = name === "contains" ? `%${body}%` : name === "startswith" ? `${body}%` : `%${body}`;
    return bound.wrap({ kind: "like", column: bound.attribute.logicalName, pattern });
  }
}

const FLIP: Record<ComparisonOperator, ComparisonOperator> = { eq: "eq", ne: "ne", gt: "lt", ge: "le", lt: "gt", le: "ge" };

/**
 * Turns a Dataverse string-function value into a LIKE pattern escaped with `\`. As in Dataverse,
 * `%` and `_` are wildcards, and `[c]` matches the single character `c` literally (the documented way
 * to search for `%`, `_` or `[`). Character ranges and sets (`[a-c]`, `[^a]`) are not supported.
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/query/filter-rows#use-wildcard-characters)
 * @throws DataverseError naming the unsupported bracket expression.
 */
export function likeBody(value: string): string {
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (c === "\\") out += "\\\\";
    else if (c === "[") {
      const close = value.indexOf("]", i + 1);
      const inner = close < 0 ? "" : value.slice(i + 1, close);
      if (close < 0 || [...inner].length !== 1) throw dv.queryOptionNotSupported(`wildcard bracket expression '${close < 0 ? value.slice(i) : value.slice(i, close + 1)}' (orgbox supports %, _ and [c] for one literal character)`);
      out += inner === "%" || inner === "_" || inner === "\\" ? `\\${inner}` : inner;
      i = close;
    } else out += c;
  }
  return out;
}

/**
 * "Some `related` record linked to this `entity` row through `link`, within `scope`, matches `where`": EXISTS over
 * the intersect table with a nested EXISTS over the related table (either direction when symmetric).
 */
function linkedRow(link: ManyToManyNavigation, entity: EntityMetadata, related: EntityMetadata, scope: ReadScope, where: Expr | undefined): Expr {
  const through = (self: ManyToManySide, other: ManyToManySide): Expr => ({
    kind: "exists",
    entity: link.intersect,
    innerColumn: self.intersectColumn,
    outerColumn: entity.primaryIdAttribute,
    scope: INTERSECT_ROWS,
    where: { kind: "exists", entity: related, innerColumn: related.primaryIdAttribute, outerColumn: other.intersectColumn, scope, ...(where ? { where } : {}) },
  });
  return link.symmetric ? { kind: "or", left: through(link.self, link.other), right: through(link.other, link.self) } : through(link.self, link.other);
}
