/** A customer in the demo's CRM. */
export interface DemoCustomer {
  id: string;
  name: string;
  phone: string;
  /** Whether this week's $5 invoice is overdue. */
  overdue: boolean;
}

const OVERDUE = new Set([3, 8, 14, 22]);
const NAMES = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Ken', 'Radia', 'Linus', 'Frances', 'Donald'];

/**
 * The demo's 40 customers, 4 of them overdue. Phone numbers are fictional (555-01xx).
 *
 * @example
 * ```ts
 * demoCustomers.filter((customer) => customer.overdue).length; // 4
 * ```
 */
export const demoCustomers: readonly DemoCustomer[] = Array.from({ length: 40 }, (_, index) => {
  const number = index + 1;
  return {
    id: `cus_demo_${String(number).padStart(2, '0')}`,
    name: `${NAMES[index % NAMES.length]} ${String.fromCharCode(65 + Math.floor(index / NAMES.length))}.`,
    phone: `+1415555${String(100 + number).padStart(4, '0')}`,
    overdue: OVERDUE.has(number),
  };
});
