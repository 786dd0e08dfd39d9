/**
 * The filter language: Consul's `filter=` query parameter (go-bexpr), for every endpoint that
 * filters (agent services and checks; the catalog and health endpoints on servers). Compile an
 * expression against the schema of the endpoint's element type, then call the predicate on each
 * element's wire JSON object.
 *
 * This module imports only src/lib; api and catalog import it, nothing here speaks HTTP.
 */
export { FilterError, FilterLimitError } from '../lib/errors.js'
export { compileFilter, MAX_FILTER_LENGTH, MAX_REGEXP_WORK, type FilterPredicate } from './evaluate.js'
export {
  compileGoRegexp,
  MAX_PATTERN_LENGTH,
  MAX_PROGRAM_SIZE,
  RegexpError,
  type GoRegexp,
} from './regexp.js'
export {
  agentServiceSchema,
  boolField,
  checkServiceNodeSchema,
  healthCheckSchema,
  nodeSchema,
  nodeServiceSchema,
  serviceNodeSchema,
  listOf,
  mapOf,
  numberField,
  stringField,
  structOf,
  type FieldSchema,
} from './schemas.js'
