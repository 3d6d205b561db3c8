// Drives order-capture's Medusa dialect with Medusa's own admin client, configured as its
// README tells a user: `new Medusa({ baseUrl, apiKey, maxRetries })`, nothing else.
// usage: node medusa_capture.cjs <base url> <api key> <order id>
// Prints one JSON line per call: {"call", "status", "body"}.
const Medusa = require("@medusajs/medusa-js").default;

async function call(name, promise) {
  try {
    const { response, ...body } = await promise;
    return { call: name, status: response.status, body };
  } catch (error) {
    if (!error.response) throw error;
    return { call: name, status: error.response.status, body: error.response.data };
  }
}

async function main() {
  const [baseUrl, apiKey, orderId] = process.argv.slice(2);
  const medusa = new Medusa({ baseUrl, apiKey, maxRetries: 0 });
  const stranger = new Medusa({ baseUrl, apiKey: "oc_not-a-key", maxRetries: 0 });
  const results = [
    await call("capture", medusa.admin.orders.capturePayment(orderId)),
    await call("capture again", medusa.admin.orders.capturePayment(orderId)),
    await call("capture missing", medusa.admin.orders.capturePayment(`${orderId}-missing`)),
    await call("capture with an unknown key", stranger.admin.orders.capturePayment(orderId)),
  ];
  for (const result of results) console.log(JSON.stringify(result));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
