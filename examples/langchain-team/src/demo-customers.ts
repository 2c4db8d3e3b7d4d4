import type Stripe from 'stripe';

/** A customer of the demo account. */
export interface DemoCustomer {
  id: string;
  name: string;
  /** Whether this week's $5 invoice is due: 4 of the 40 customers. */
  due: boolean;
}

const NAMES = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Ken', 'Radia', 'Linus', 'Frances', 'Donald'];
const DUE = new Set([3, 8, 14, 22]);

/**
 * Creates the demo account's 40 customers (4 of them with an invoice due) with an admin Stripe
 * client — setup done by a human, outside the agents' keys.
 *
 * @param stripe - A Stripe client holding the real (test-mode) secret, or pointing at the fake.
 * @param phone - The phone number to give every customer (Twilio's magic test number by default).
 * @returns The customers, in creation order.
 * @example
 * ```ts
 * const customers = await createDemoCustomers(admin);
 * customers.filter((customer) => customer.due).length; // 4
 * ```
 */
export async function createDemoCustomers(stripe: Stripe, phone = '+15005550006'): Promise<DemoCustomer[]> {
  const customers: DemoCustomer[] = [];
  for (let number = 1; number <= 40; number++) {
    const name = `${NAMES[(number - 1) % NAMES.length]} ${String.fromCharCode(64 + Math.ceil(number / NAMES.length))}.`;
    const created = await stripe.customers.create({ name, phone, metadata: { keybrake_demo: 'langchain-team' } });
    customers.push({ id: created.id, name, due: DUE.has(number) });
  }
  return customers;
}
