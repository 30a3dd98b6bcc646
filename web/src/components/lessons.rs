//! Guided lessons: read, predict, lock the prediction, run, then compare the prediction with
//! what the core computed and read why.
//!
//! The lessons themselves (texts, scenarios, questions, grading) are in
//! [`crate::lessons_data`]. "Run it" loads the lesson's scenario into the playground (the link
//! then reproduces it, `lesson=` included) and plays it here with the usual player, while the
//! runs the answer depends on are simulated at summary detail. The feedback appears when the
//! played run reaches its end (or at once, on request). Answers are never stored: they are
//! computed from these runs.
//!
//! Every lesson opens its run in presentation mode and its race ([`Lesson::race`]) in the race
//! view, presented or not: links that carry the lesson, so that the race shows what to watch for
//! and leads back here.

use crate::batch::{run_batch, use_batch_generation, Job};
use crate::components::play::PlayView;
use crate::lessons_data::{self, parse_number, Feedback, Lesson, LessonRun, Prediction, Question};
use crate::loaded::Loaded;
use crate::share::{ShareState, View};
use crate::state::batch::Progress;
use crate::state::player::{PlayerAction, PlayerStatus};
use livemig_core::units::Quantity;
use std::rc::Rc;
use yew::prelude::*;

/// Props of [`LessonsView`].
#[derive(Properties, PartialEq)]
pub struct LessonsProps {
    /// Current state.
    pub share: ShareState,
    /// Change it (loads a lesson's scenario).
    pub set_share: Callback<ShareState>,
    /// The current run.
    pub loaded: Option<Rc<Loaded>>,
    /// Player status.
    pub status: PlayerStatus,
    /// Player requests.
    pub act: Callback<PlayerAction>,
}

fn prefers_reduced_motion() -> bool {
    web_sys::window().and_then(|w| w.match_media("(prefers-reduced-motion: reduce)").ok().flatten()).is_some_and(|m| m.matches())
}

/// What happened in a lesson so far.
#[derive(Debug, Clone, PartialEq, Default)]
struct Progression {
    /// Lesson id this belongs to.
    lesson: String,
    /// The answer being chosen (before it locks).
    draft: Option<Prediction>,
    /// The number being typed.
    number_text: String,
    /// Why the typed number cannot be read.
    number_error: Option<String>,
    /// The prediction, locked.
    locked: Option<Prediction>,
    /// "Run it" was pressed.
    started: bool,
    /// The runs the answer is computed from (or why they failed).
    runs: Option<Result<Vec<LessonRun>, String>>,
    /// Show the feedback before the played run ends.
    reveal_now: bool,
}

/// The lessons view.
#[component]
pub fn LessonsView(props: &LessonsProps) -> Html {
    let lesson_id = props.share.lesson.clone();
    let lesson = lesson_id.as_deref().and_then(lessons_data::find);
    let state = use_state(Progression::default);
    let computing = use_state(|| None::<Progress>);
    let generation = use_batch_generation();
    let autoplay = use_mut_ref(|| false);
    let reduced_motion = use_memo((), |_| prefers_reduced_motion());
    let lesson_scenario = use_memo(lesson_id.clone(), |id| id.as_deref().and_then(lessons_data::find).and_then(|l| l.scenario().ok()));

    // A progression belongs to one lesson: opening another starts afresh.
    let st: Progression = if state.lesson == lesson_id.clone().unwrap_or_default() {
        (*state).clone()
    } else {
        Progression { lesson: lesson_id.clone().unwrap_or_default(), ..Progression::default() }
    };

    let playing_lesson = match (&props.loaded, lesson_scenario.as_ref()) {
        (Some(l), Some(s)) => !l.from_file && l.scenario == *s && st.started,
        _ => false,
    };

    // Start playing the lesson's run once the playground has loaded it.
    {
        let autoplay = autoplay.clone();
        let act = props.act.clone();
        let playing = props.status.playing;
        use_effect_with((playing_lesson, props.loaded.as_ref().map(Rc::as_ptr)), move |(ready, _)| {
            if *ready && *autoplay.borrow() {
                *autoplay.borrow_mut() = false;
                if !playing {
                    act.emit(PlayerAction::PlayPause);
                }
            }
        });
    }

    let list = html! {
        <nav class="lesson-list" aria-label="lessons">
            { for lessons_data::lessons().iter().enumerate().map(|(i, l)| {
                let set_share = props.set_share.clone();
                let share = props.share.clone();
                let id = l.id;
                let active = lesson.is_some_and(|x| x.id == l.id);
                html! {
                    <button type="button" class={classes!("lesson-pick", active.then_some("active"))} aria-current={active.then_some("true")}
                        data-testid={format!("lesson-{}", l.id)}
                        onclick={Callback::from(move |_| set_share.emit(ShareState { lesson: Some(id.to_string()), view: View::Lessons, ..share.clone() }))}>
                        <span class="lesson-num">{format!("{}", i + 1)}</span>
                        <span class="lesson-pick-text"><span class="lesson-family">{l.family}</span>{l.title}</span>
                    </button>
                }
            }) }
        </nav>
    };

    let Some(lesson) = lesson else {
        let message = match &lesson_id {
            Some(id) => {
                html! { <p class="error" role="alert" data-testid="lesson-unknown">{format!("There is no lesson '{id}': accepted {}.",
                lessons_data::lessons().iter().map(|l| l.id).collect::<Vec<_>>().join(", "))}</p> }
            }
            None => {
                html! { <p class="muted">{"Pick a lesson. Each one asks you to predict what an algorithm will do before you run it: answer, lock your prediction, then watch the run and compare."}</p> }
            }
        };
        return html! {
            <section class="panel lessons-view" aria-label="lessons">
                <h2>{"Lessons"}</h2>
                { message }
                { list }
            </section>
        };
    };

    let update = {
        let state = state.clone();
        let st = st.clone();
        move |f: &dyn Fn(&mut Progression)| {
            let mut next = st.clone();
            f(&mut next);
            state.set(next);
        }
    };
    let update = Rc::new(update);

    // The question, answered before anything runs.
    let locked = st.locked.is_some();
    let answer_html = match lesson.question {
        Question::Choice { choices, .. } => {
            let items = choices.iter().enumerate().map(|(i, c)| {
                let update = update.clone();
                let checked = st.locked.or(st.draft) == Some(Prediction::Choice(i));
                html! {
                    <label class={classes!("choice", checked.then_some("chosen"))}>
                        <input type="radio" name={format!("q-{}", lesson.id)} checked={checked} disabled={locked}
                            data-testid={format!("choice-{i}")}
                            onchange={Callback::from(move |_: Event| update(&|p: &mut Progression| p.draft = Some(Prediction::Choice(i))))} />
                        {*c}
                    </label>
                }
            });
            html! { <div class="choices" role="radiogroup" aria-label="your prediction">{ for items }</div> }
        }
        Question::Number { unit, .. } => {
            let update_in = update.clone();
            let oninput = Callback::from(move |e: InputEvent| {
                let i: web_sys::HtmlInputElement = e.target_unchecked_into();
                let text = i.value();
                update_in(&|p: &mut Progression| {
                    p.number_text = text.clone();
                    p.number_error = None;
                    p.draft = parse_number(&text, unit).ok().map(Prediction::Number);
                })
            });
            let shown = match st.locked {
                Some(Prediction::Number(x)) => x.to_string(),
                _ => st.number_text.clone(),
            };
            html! {
                <div class={classes!("field", "number-answer", st.number_error.is_some().then_some("invalid"))}>
                    <label for="lesson-number">{"Your prediction"}</label>
                    <span class="number-row">
                        <input id="lesson-number" type="text" inputmode="decimal" value={shown} disabled={locked} {oninput}
                            data-testid="prediction-number" aria-invalid={st.number_error.is_some().to_string()} />
                        <span class="unit">{unit}</span>
                    </span>
                    { for st.number_error.clone().map(|e| html! { <small class="error" role="alert">{e}</small> }) }
                </div>
            }
        }
    };

    let on_lock = {
        let update = update.clone();
        let question = lesson.question;
        Callback::from(move |_: MouseEvent| {
            update(&|p: &mut Progression| {
                if let (Question::Number { unit, .. }, None) = (question, p.draft) {
                    p.number_error = Some(parse_number(&p.number_text, unit).err().unwrap_or_default());
                    return;
                }
                p.locked = p.draft;
            })
        })
    };

    let on_run = {
        let state = state.clone();
        let st = st.clone();
        let set_share = props.set_share.clone();
        let share = props.share.clone();
        let computing = computing.clone();
        let generation = generation.clone();
        let autoplay = autoplay.clone();
        let act = props.act.clone();
        let already_loaded = match (&props.loaded, lesson_scenario.as_ref()) {
            (Some(l), Some(s)) => !l.from_file && l.scenario == *s,
            _ => false,
        };
        let lesson: &'static Lesson = lesson;
        let playing = props.status.playing;
        Callback::from(move |_: MouseEvent| {
            let mut next = st.clone();
            next.started = true;
            next.runs = None;
            next.reveal_now = false;
            state.set(next.clone());
            // Load the lesson's scenario into the playground, and play it.
            set_share.emit(lesson.share(&share));
            if already_loaded {
                act.emit(PlayerAction::Restart);
                if !playing {
                    act.emit(PlayerAction::PlayPause);
                }
            } else {
                *autoplay.borrow_mut() = true;
            }
            // Simulate the runs the answer is computed from.
            let jobs: Vec<Job<Result<LessonRun, String>>> = (0..lesson.run_count())
                .map(|i| {
                    (format!("run {} of {}", i + 1, lesson.run_count()), Box::new(move || lesson.run_one(i)) as Box<dyn FnOnce() -> _>)
                })
                .collect();
            let c = computing.clone();
            let on_progress = Callback::from(move |p: Progress| c.set(Some(p)));
            let (c, state, next) = (computing.clone(), state.clone(), next.clone());
            let on_done = Callback::from(move |(runs, _, _): (Vec<Result<LessonRun, String>>, f64, f64)| {
                c.set(None);
                let mut done = next.clone();
                done.runs = Some(runs.into_iter().collect());
                state.set(done);
            });
            run_batch(&generation, jobs, on_progress, on_done);
        })
    };

    let on_reveal = {
        let update = update.clone();
        let act = props.act.clone();
        Callback::from(move |_: MouseEvent| {
            act.emit(PlayerAction::End);
            update(&|p: &mut Progression| p.reveal_now = true);
        })
    };
    let on_restart_lesson = {
        let state = state.clone();
        let id = lesson.id.to_string();
        Callback::from(move |_: MouseEvent| state.set(Progression { lesson: id.clone(), ..Progression::default() }))
    };
    let next_lesson = lessons_data::lessons().iter().position(|l| l.id == lesson.id).and_then(|i| lessons_data::lessons().get(i + 1));
    let on_next = next_lesson.map(|n| {
        let set_share = props.set_share.clone();
        let share = props.share.clone();
        let id = n.id;
        Callback::from(move |_: MouseEvent| set_share.emit(ShareState { lesson: Some(id.to_string()), ..share.clone() }))
    });

    let at_end = playing_lesson && props.loaded.as_ref().is_some_and(|l| l.playback.borrow().at_end());
    let feedback: Option<Result<(Feedback, Vec<LessonRun>), String>> = match (&st.runs, st.locked) {
        (Some(Ok(runs)), Some(p)) => {
            let reports: Vec<_> = runs.iter().map(|r| r.report.clone()).collect();
            Some(Ok((lesson.grade(p, &reports), runs.clone())))
        }
        (Some(Err(e)), _) => Some(Err(e.clone())),
        _ => None,
    };
    let show_feedback = feedback.is_some() && (at_end || st.reveal_now || !playing_lesson);

    let feedback_html = match (&feedback, show_feedback) {
        (Some(Ok((fb, runs))), true) => {
            let rows = runs.iter().map(|r| {
                html! {
                    <tr>
                        <th scope="row">{r.label}<span class="family">{r.algorithm}</span></th>
                        <td>{Quantity::Duration.show(r.report.total_time_s)}</td>
                        <td>{Quantity::Duration.show(r.report.downtime_s)}</td>
                        <td>{Quantity::Size.show(r.report.bytes_sent as f64)}</td>
                        <td>{r.report.network_faults.to_string()}</td>
                        <td class={if r.report.verified { "ok" } else { "bad" }}>{if r.report.verified { "yes" } else { "no" }}</td>
                    </tr>
                }
            });
            html! {
                <section class={classes!("feedback", if fb.correct { "right" } else { "wrong" })} aria-live="polite" data-testid="lesson-feedback"
                    data-correct={fb.correct.to_string()}>
                    <h3>{if fb.correct { "Right!" } else { "Not quite." }}</h3>
                    <p><strong>{"You predicted: "}</strong>{fb.yours.clone()}</p>
                    <p><strong>{"The runs say: "}</strong><span data-testid="lesson-answer">{fb.answer.clone()}</span></p>
                    <p class="observed">{fb.observed.clone()}</p>
                    <p><strong>{"Why: "}</strong>{fb.why}</p>
                    <table class="results lesson-runs">
                        <caption class="small muted">{"Computed now by the simulator, same scenario and seed (summary detail)"}</caption>
                        <thead><tr><th scope="col">{"run"}</th><th scope="col">{"total time"}</th><th scope="col">{"downtime"}</th>
                            <th scope="col">{"data sent"}</th><th scope="col">{"faults"}</th><th scope="col">{"verified"}</th></tr></thead>
                        <tbody>{ for rows }</tbody>
                    </table>
                    <div class="actions">
                        { for on_next.clone().map(|cb| html! { <button type="button" class="primary" onclick={cb} data-testid="lesson-next">{"Next lesson →"}</button> }) }
                        <button type="button" onclick={on_restart_lesson.clone()}>{"Start this lesson again"}</button>
                    </div>
                </section>
            }
        }
        (Some(Err(e)), _) => {
            html! { <p class="error" role="alert" data-testid="lesson-error">{format!("The lesson's runs failed: {e}")}</p> }
        }
        (Some(Ok(_)), false) => html! {
            <p class="muted lesson-wait" data-testid="lesson-waiting">{"Watch the run to its end for the verdict (space pauses, arrows step), or "}
                <button type="button" onclick={on_reveal} data-testid="lesson-reveal">{"skip to the result"}</button></p>
        },
        (None, _) if st.started => {
            let what = computing.as_ref().map_or_else(String::new, |(d, t, _)| format!(" ({d} of {t} done)"));
            html! { <p class="muted" role="status">{format!("Computing the answer with the simulator{what}…")}</p> }
        }
        _ => html! {},
    };

    let player = if playing_lesson {
        html! { <PlayView loaded={props.loaded.clone()} status={props.status} act={props.act.clone()} reduced_motion={*reduced_motion} /> }
    } else if st.started {
        html! { <p class="muted">{"Loading the lesson's scenario into the playground… (if you changed the scenario on the left since, press Run it again)"}</p> }
    } else {
        html! {}
    };

    // Open the lesson's run as a race or in presentation mode: links (shareable), followed in place.
    let open_link = |label: String, testid: &str, target: ShareState| {
        let set_share = props.set_share.clone();
        let href = target.to_query();
        let onclick = Callback::from(move |e: MouseEvent| {
            e.prevent_default();
            set_share.emit(target.clone());
        });
        html! { <a class="button-link" href={href} data-testid={testid.to_string()} {onclick}>{label}</a> }
    };
    let open = html! {
        <div class="lesson-open" role="group" aria-label="open this lesson's run">
            { open_link(format!("Race {} ›", lesson.race.join(" vs ")), "lesson-race", lesson.race_share(&props.share, false)) }
            { open_link("Present the race ›".to_string(), "lesson-race-present", lesson.race_share(&props.share, true)) }
            { open_link("Present this run ›".to_string(), "lesson-present", lesson.present_share(&props.share)) }
        </div>
    };
    let watch = (!lesson.watch.is_empty()).then(|| {
        html! { <p class="lesson-watch" data-testid="lesson-watch"><strong>{"In the race: "}</strong>{lesson.watch}</p> }
    });

    let scenario_note = {
        let mut parts = vec![format!("preset {}", lesson.preset)];
        parts.extend(lesson.overrides.iter().map(|o| o.to_string()));
        parts.push(format!("algorithm {}", lesson.algorithm));
        parts.join(", ")
    };

    html! {
        <section class="panel lessons-view" aria-label="lessons">
            <h2>{"Lessons"}</h2>
            { list }
            <article class="lesson" data-testid="lesson" data-lesson={lesson.id}>
                <p class="lesson-family">{lesson.family}</p>
                <h3 data-testid="lesson-title">{lesson.title}</h3>
                <p class="lesson-text">{lesson.text}</p>
                <p class="muted small">{format!("Scenario: {scenario_note}.")}</p>
                { for watch }
                { open }
                <div class="question">
                    <p class="prompt"><strong>{"Predict: "}</strong>{lesson.prompt}</p>
                    { answer_html }
                    <div class="actions">
                        { if locked {
                            html! { <span class="locked" data-testid="prediction-locked">{"Prediction locked"}</span> }
                        } else {
                            html! { <button type="button" class="primary" onclick={on_lock} disabled={st.draft.is_none() && matches!(lesson.question, Question::Choice { .. })}
                                data-testid="lock-prediction">{"Lock in my prediction"}</button> }
                        } }
                        <button type="button" class={classes!(locked.then_some("primary"))} onclick={on_run} disabled={!locked || computing.is_some()}
                            title={if locked { "load the lesson's scenario and play it" } else { "answer first: lock in your prediction" }}
                            data-testid="lesson-run">{"Run it"}</button>
                        { if !locked { html! { <span class="muted small">{"Answer first: the run unlocks once your prediction is locked."}</span> } } else { html! {} } }
                    </div>
                </div>
                { feedback_html }
            </article>
            { player }
        </section>
    }
}
