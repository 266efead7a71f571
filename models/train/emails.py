"""Synthetic emails: the documents an agent reads most, as hosts for planted tasks and as benign twins.

Real emails address their reader with instructions of their own ("please confirm by Friday", "reset your password
if this was not you"); those are part of the benign email, not a planted task (see planted.py).

The sentences are written for this recipe across everyday categories; no evaluation text was used.
"""

from __future__ import annotations

import random

FIRST = ("Anna", "Ben", "Carla", "David", "Elif", "Farah", "George", "Hiro", "Ines", "James", "Kemi", "Luis",
         "Maya", "Noah", "Olga", "Priya", "Quentin", "Rosa", "Sam", "Tariq", "Uma", "Victor", "Wen", "Yusuf", "Zoe")
LAST = ("Adams", "Baker", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Hughes", "Ivanova", "Jensen", "Khan",
        "Lopez", "Meyer", "Nakamura", "Okafor", "Patel", "Rossi", "Silva", "Tanaka", "Weber")
COMPANIES = ("Northwind Traders", "Bluebird Logistics", "Harbor Credit Union", "Greenleaf Realty", "Summit Health",
             "Atlas Software", "Riverside Primary School", "Copperline Energy", "Maple Insurance", "Orbit Travel")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")

# Each category: subject lines and body sentences, some of them instructions to the reader (benign in an email).
CATEGORIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "meeting": (
        ("Meeting on {date}", "Rescheduling our call", "Agenda for {weekday}'s review"),
        (
            "I'd like to move our weekly sync to {weekday} at {hour}.",
            "Please let me know if that time works for you.",
            "The agenda covers the budget, the hiring plan and the launch timeline.",
            "I've booked room {number} on the third floor.",
            "Could you bring the latest figures from the regional teams?",
            "My assistant will send you the signed minutes afterwards.",
            "If you can't make it, please send someone from your team.",
            "The dial-in details are in the calendar invitation.",
        ),
    ),
    "project": (
        ("Project update", "Status of the {company} migration", "Quick update before the deadline"),
        (
            "We finished the first phase of the migration last {weekday}.",
            "Testing found {number} minor issues, all of which are now fixed.",
            "The remaining work should take about two more weeks.",
            "Please review the attached plan and add your comments by {date}.",
            "We are still waiting on the vendor for the final licence keys.",
            "Thanks to everyone who stayed late to get the release out.",
            "Let me know if anything in the timeline looks unrealistic to you.",
            "The new dashboard is live for all users, so please ignore the old reports from now on.",
        ),
    ),
    "invoice": (
        ("Invoice {number} from {company}", "Payment reminder", "Your receipt"),
        (
            "Please find attached invoice {number} for the services provided in {month}.",
            "The total amount due is ${amount}, payable within 30 days.",
            "Payment can be made by bank transfer to the account shown on the invoice.",
            "If you have already paid, please disregard this reminder.",
            "We have received your payment of ${amount}. Thank you.",
            "For questions about this invoice, reply to this email or call our billing team.",
        ),
    ),
    "bank": (
        ("Your {month} statement is ready", "Account notice", "Important information about your account"),
        (
            "Your monthly statement for the account ending in {number} is now available in online banking.",
            "We noticed a sign-in to your account from a new device on {date}.",
            "If this was you, no action is needed. If not, please change your password right away.",
            "From {date}, the interest rate on your savings account will change to {rate}%.",
            "A transfer of ${amount} to your savings account was completed today.",
            "Remember that we will never ask you for your PIN by email or phone.",
            "Your new debit card has been sent and should arrive within five working days.",
        ),
    ),
    "shipping": (
        ("Your order {number} has shipped", "Delivery update", "Order confirmation"),
        (
            "Thank you for your order. We're getting it ready to ship.",
            "Your parcel is on its way and should arrive on {date}.",
            "You can track your delivery with the tracking number {number}.",
            "If nobody is home, the courier will leave a card with pickup instructions.",
            "Items can be returned free of charge within 30 days.",
            "The order includes 2 items with a total of ${amount}.",
        ),
    ),
    "hr": (
        ("Updated leave policy", "Open enrolment for benefits", "Welcome to the team"),
        (
            "The updated leave policy takes effect on {date}.",
            "Please complete the benefits enrolment form before the end of {month}.",
            "All staff are asked to finish the annual security training by {date}.",
            "We are delighted to welcome {first} {last}, who joins the finance team on {weekday}.",
            "Payslips for {month} will be available one day later than usual.",
            "Contact the HR desk if you have questions about your entitlement.",
        ),
    ),
    "it": (
        ("Planned maintenance on {date}", "Password expiry notice", "New VPN client"),
        (
            "The email system will be unavailable on {date} from 22:00 to 02:00 for maintenance.",
            "Your password expires in {number} days; change it from the staff portal.",
            "Please restart your laptop after the update installs tonight.",
            "The new VPN client replaces the old one from {date}; install it from the software centre.",
            "Save your work before leaving, as the file server will be rebooted.",
            "Report anything unusual to the service desk on extension {number}.",
            "All users must change their password by {date}; the old one will stop working after that.",
            "Users who have not finished the training will lose access to the shared drive.",
        ),
    ),
    "events": (
        ("You're invited: {company} summer gathering", "Newsletter for {month}", "Community event this {weekday}"),
        (
            "Join us on {date} for our annual summer gathering in the park.",
            "There will be food, live music and activities for children.",
            "Please RSVP by {date} so we can plan the catering.",
            "This month's newsletter covers our new opening hours and the volunteer programme.",
            "Tickets are free but places are limited.",
            "We hope to see you and your family there.",
        ),
    ),
    "personal": (
        ("Weekend plans", "Photos from the trip", "Catching up"),
        (
            "It was so good to see you last {weekday}.",
            "I've uploaded the photos from the trip to the shared album.",
            "Are you still free for dinner on {date}?",
            "Mum says hello and asks when you're visiting next.",
            "Don't forget to bring the camping gear back when you come.",
            "Let me know how the new job is going.",
        ),
    ),
    "school": (
        ("Parents' evening on {date}", "Class trip consent form", "Term dates"),
        (
            "Parents' evening will take place on {date} from 16:00 to 19:00.",
            "Please sign and return the consent form for the museum trip by {weekday}.",
            "The trip costs ${amount}, which can be paid through the school app.",
            "Children should bring a packed lunch and a waterproof coat.",
            "The spring term ends on {date}.",
            "Thank you for your continued support.",
        ),
    ),
    "travel": (
        ("Booking confirmation {number}", "Your trip with {company}", "Check-in is now open"),
        (
            "Your booking is confirmed. Your reference number is {number}.",
            "Your flight departs on {date} at {hour}.",
            "Online check-in opens 24 hours before departure.",
            "Please arrive at the airport at least two hours before your flight.",
            "Your hotel stay includes breakfast and free cancellation until {date}.",
            "Bring a valid passport and your booking confirmation.",
        ),
    ),
    "support": (
        ("Re: Support ticket {number}", "We've received your request", "Your case has been resolved"),
        (
            "Thanks for contacting {company} support.",
            "We've received your request and a member of our team will reply within one working day.",
            "Could you send us a screenshot of the error message you see?",
            "Our virtual assistant can answer most questions about your account at any time.",
            "We've issued a refund of ${amount}, which should appear within 5 to 7 days.",
            "If the problem comes back, reply to this email and we'll reopen your ticket.",
            "Please rate your experience using the short survey below.",
        ),
    ),
}
GREETINGS = ("Hi {first},", "Dear {first} {last},", "Hello {first},", "Dear customer,", "Hi all,", "Good morning,")
CLOSINGS = ("Best regards,", "Kind regards,", "Thanks,", "Cheers,", "Sincerely,", "Many thanks,")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")


def domain(company: str) -> str:
    """A company's mail domain ("Northwind Traders" -> "northwind.example")."""
    return company.split()[0].lower() + ".example"


def _slots(rng: random.Random) -> dict[str, str]:
    return {
        "first": rng.choice(FIRST),
        "last": rng.choice(LAST),
        "company": rng.choice(COMPANIES),
        "month": rng.choice(MONTHS),
        "date": f"{rng.randint(1, 28)} {rng.choice(MONTHS)}",
        "weekday": rng.choice(WEEKDAYS),
        "hour": f"{rng.randint(8, 17)}:{rng.choice(('00', '15', '30', '45'))}",
        "number": str(rng.randint(100, 99999)),
        "amount": f"{rng.randint(5, 4000)}.{rng.randint(0, 99):02d}",
        "rate": f"{rng.randint(1, 5)}.{rng.randint(0, 9)}",
    }


def email(rng: random.Random, prose: list[str]) -> tuple[list[str], list[str], list[str]]:
    """One email as (head, body sentences, tail): the places a task can be planted are between the parts.

    Some bodies also carry sentences of training prose, so an unfamiliar sentence alone does not mark a planted task.
    """
    subjects, sentences = CATEGORIES[rng.choice(sorted(CATEGORIES))]
    slots = _slots(rng)
    sender = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    head = []
    shape = rng.random()
    if shape < 0.5:
        address = sender.lower().replace(" ", ".") + "@" + domain(slots["company"])
        head += [f"From: {sender} <{address}>", f"To: {slots['first']} {slots['last']}"]
    if shape < 0.8:
        head.append("Subject: " + rng.choice(subjects).format(**slots))
    head.append(rng.choice(GREETINGS).format(**slots))
    body = [s.format(**slots) for s in rng.sample(sentences, rng.randint(2, min(5, len(sentences))))]
    if rng.random() < 0.4:
        at = rng.randint(0, len(body))
        body[at:at] = rng.sample(prose, min(len(prose), rng.randint(1, 2)))
    tail = [rng.choice(CLOSINGS), sender if rng.random() < 0.6 else f"{sender}\n{slots['company']}"]
    return head, body, tail


def render(head: list[str], body: list[str], tail: list[str]) -> str:
    return "\n".join(head) + "\n\n" + " ".join(body) + "\n\n" + "\n".join(tail)
