// The API reference at /api/docs (web/api_docs.py): Swagger UI over Portti's OpenAPI document.
// SwaggerUIBundle is the global of the vendored bundle, a classic script loaded before this one.
const { SwaggerUIBundle } = window;

SwaggerUIBundle({
  url: "/api/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
